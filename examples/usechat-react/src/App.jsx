import { useChat } from '@ai-sdk/react'
import { DefaultChatTransport } from 'ai'
import { useState } from 'react'

// The Vercel AI SDK's own hook, unchanged, against a rais endpoint with protocol="auto"
// (or "ai-sdk"). ?api=URL wins, then VITE_CHAT_API at build time, then the rais default.
const api =
  new URLSearchParams(window.location.search).get('api') ??
  import.meta.env.VITE_CHAT_API ??
  'http://localhost:8000/api/chat'

const transport = new DefaultChatTransport({ api })

// One part of a message: its text, the model's reasoning, or a tool call with its input
// and, once the server ran it, its output or error (rais streams all three).
function Part({ part }) {
  if (part.type === 'text') return <span className="text">{part.text}</span>
  if (part.type === 'reasoning') {
    return (
      <details className="reasoning">
        <summary>Reasoning</summary>
        {part.text}
      </details>
    )
  }
  if (part.type.startsWith('tool-')) {
    return (
      <div className="tool" data-tool={part.type.slice(5)} data-state={part.state}>
        <code className="tool-input">
          {part.type.slice(5)}({JSON.stringify(part.input ?? {})})
        </code>
        {part.state === 'output-available' && (
          <code className="tool-output">{JSON.stringify(part.output)}</code>
        )}
        {part.state === 'output-error' && <code className="tool-error">{part.errorText}</code>}
      </div>
    )
  }
  return null
}

export default function App() {
  const { messages, sendMessage, status, error, stop } = useChat({ transport })
  const [input, setInput] = useState('')
  const busy = status === 'submitted' || status === 'streaming'

  const submit = (event) => {
    event.preventDefault()
    const text = input.trim()
    if (!text || busy) return
    setInput('')
    sendMessage({ text })
  }

  return (
    <div className="app" data-status={status}>
      <h1>rais + useChat</h1>
      <code>POST {api}</code>
      {messages.map((message) => (
        <div key={message.id} className={`message ${message.role}`} data-role={message.role}>
          {message.parts.map((part, index) => (
            <Part key={index} part={part} />
          ))}
        </div>
      ))}
      {error && (
        <div className="error" role="alert">
          {error.message}
        </div>
      )}
      <form onSubmit={submit}>
        <input
          aria-label="Message"
          value={input}
          onChange={(event) => setInput(event.target.value)}
          placeholder="Ask something"
        />
        {busy ? (
          <button type="button" onClick={() => stop()}>
            Stop
          </button>
        ) : (
          <button type="submit">Send</button>
        )}
      </form>
    </div>
  )
}
