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
          {message.parts.map((part, index) =>
            part.type === 'text' ? <span key={index}>{part.text}</span> : null,
          )}
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
