// The smallest real useChat front end: @ai-sdk/react's hook with the stock
// DefaultChatTransport, pointed at ?api=<url>. Everything a test asserts on has a stable
// hook: #status, #error, #messages > [data-role] > [data-part-type], and window.__chat
// (the hook's messages/status/error as plain JSON) for exact comparisons.
import { useChat } from "@ai-sdk/react";
import { DefaultChatTransport } from "ai";
import { useEffect, useState } from "react";
import { createRoot } from "react-dom/client";

const query = new URLSearchParams(window.location.search);
const api = query.get("api") ?? "/api/chat";
// ?chat=<id>&resume=1: a stable chat id and the hook's resume on mount (GET {api}/{id}/stream).
const chatId = query.get("chat") ?? undefined;
const resume = query.get("resume") === "1";
const transport = new DefaultChatTransport({ api });

function Part({ part }) {
  const text = typeof part.text === "string" ? part.text : JSON.stringify(part);
  return (
    <span data-part-type={part.type} data-state={part.state ?? ""}>
      {text}
    </span>
  );
}

function App() {
  const { messages, sendMessage, status, error, stop } = useChat({ id: chatId, transport, resume });
  const [input, setInput] = useState("");

  useEffect(() => {
    window.__chat = { api, status, error: error?.message ?? null, messages };
  }, [status, error, messages]);

  const submit = (event) => {
    event.preventDefault();
    if (!input.trim()) return;
    sendMessage({ text: input });
    setInput("");
  };

  return (
    <main>
      <p>
        status: <span id="status">{status}</span>
      </p>
      <p>
        error: <span id="error">{error?.message ?? ""}</span>
      </p>
      <ol id="messages">
        {messages.map((message) => (
          <li key={message.id} data-role={message.role} data-message-id={message.id}>
            {message.parts.map((part, index) => (
              <Part key={index} part={part} />
            ))}
          </li>
        ))}
      </ol>
      <form id="composer" onSubmit={submit}>
        <textarea id="input" value={input} onChange={(event) => setInput(event.target.value)} />
        <button id="send" type="submit" disabled={status === "submitted" || status === "streaming"}>
          Send
        </button>
        <button id="stop" type="button" onClick={() => stop()}>
          Stop
        </button>
      </form>
    </main>
  );
}

createRoot(document.getElementById("root")).render(<App />);
