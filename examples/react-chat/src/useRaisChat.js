import { useCallback, useRef, useState } from 'react'

/**
 * A RAIS v1 client hook shaped like `useAIChat`: POST the conversation as JSON,
 * read the event stream with fetch, split on "\n\n", parse "data: " lines, and
 * abort with an AbortController.
 */
export function useRaisChat({ endpoint }) {
  const [messages, setMessages] = useState([])
  const [isLoading, setIsLoading] = useState(false)
  const [error, setError] = useState(null)
  const [outcome, setOutcome] = useState('')
  const controllerRef = useRef(null)

  const send = useCallback(
    async (text) => {
      const history = [...messages, { role: 'user', content: text }]
      setMessages([...history, { role: 'assistant', content: '' }])
      setError(null)
      setIsLoading(true)
      const controller = new AbortController()
      controllerRef.current = controller
      let answer = ''
      let result = ''
      const show = () =>
        setMessages([...history, { role: 'assistant', content: answer }])

      try {
        const response = await fetch(endpoint, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ messages: history }),
          signal: controller.signal,
        })
        if (!response.ok) {
          const body = await response.json().catch(() => null)
          throw new Error(`HTTP ${response.status}: ${body?.error?.message ?? response.statusText}`)
        }
        const reader = response.body.getReader()
        const decoder = new TextDecoder()
        let buffer = ''
        reading: for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          buffer += decoder.decode(value, { stream: true })
          const blocks = buffer.split('\n\n')
          buffer = blocks.pop()
          for (const block of blocks) {
            for (const line of block.split('\n')) {
              if (!line.startsWith('data: ')) continue
              const event = JSON.parse(line.slice(6))
              if (event.type === 'text') {
                answer += event.text
                show()
              } else if (event.type === 'done') {
                result = 'done'
                break reading
              } else if (event.type === 'error') {
                throw new Error(event.error)
              }
            }
          }
        }
        reader.cancel().catch(() => {})
        if (!result) throw new Error('The connection closed before the answer finished.')
      } catch (err) {
        if (err.name === 'AbortError') {
          result = 'stopped'
        } else {
          result = 'error'
          setError(err.message)
        }
      } finally {
        controllerRef.current = null
        setIsLoading(false)
        setOutcome(result)
        if (!answer) setMessages(history) // no empty assistant bubble
      }
    },
    [endpoint, messages],
  )

  const stop = useCallback(() => controllerRef.current?.abort(), [])

  return { messages, send, stop, isLoading, error, outcome }
}
