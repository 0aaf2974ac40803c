import { useState } from 'react'
import { useRaisChat } from './useRaisChat.js'

// ?endpoint=URL wins, then VITE_RAIS_ENDPOINT at build time, then the rais default.
const endpoint =
  new URLSearchParams(window.location.search).get('endpoint') ??
  import.meta.env.VITE_RAIS_ENDPOINT ??
  'http://localhost:8000/api/chat'

export default function App() {
  const { messages, send, stop, isLoading, error, outcome } = useRaisChat({ endpoint })
  const [input, setInput] = useState('')

  const submit = (event) => {
    event.preventDefault()
    const text = input.trim()
    if (!text || isLoading) return
    setInput('')
    send(text)
  }

  return (
    <div className="app" data-state={isLoading ? 'streaming' : 'idle'} data-outcome={outcome}>
      <header>
        <h1>rais + React</h1>
        <code>POST {endpoint}</code>
      </header>
      <main>
        {messages.map((message, index) => (
          <div key={index} className={`message ${message.role}`} data-role={message.role}>
            {message.content}
          </div>
        ))}
        {error && (
          <div className="error" role="alert">
            {error}
          </div>
        )}
      </main>
      <form onSubmit={submit}>
        <input
          value={input}
          onChange={(event) => setInput(event.target.value)}
          placeholder="Message"
          aria-label="Message"
        />
        <button type="submit" disabled={isLoading}>
          Send
        </button>
        <button type="button" onClick={stop} disabled={!isLoading}>
          Stop
        </button>
      </form>
    </div>
  )
}
