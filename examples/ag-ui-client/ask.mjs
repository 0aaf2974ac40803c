// Ask a rais endpoint a question with AG-UI's own client and print the answer as it streams.
//
//   npm ci && node ask.mjs "What is SSE?"            (CHAT_API, default http://localhost:8000/api/chat)
//
// HttpAgent posts a RunAgentInput (threadId, runId, messages, state, tools, context,
// forwardedProps); rais answers RUN_STARTED, TEXT_MESSAGE_START/CONTENT/END and RUN_FINISHED
// (or RUN_ERROR), and the agent checks their order as it applies them.
import { randomUUID } from "node:crypto";
import { HttpAgent } from "@ag-ui/client";

const question = process.argv[2] ?? "Hello!";
const url = process.env.CHAT_API ?? "http://localhost:8000/api/chat";

const agent = new HttpAgent({
  url,
  threadId: randomUUID(),
  initialMessages: [{ id: randomUUID(), role: "user", content: question }],
});

let failed = null;
try {
  await agent.runAgent(
    { runId: randomUUID(), forwardedProps: {} },
    {
      onTextMessageContentEvent({ event }) {
        process.stdout.write(event.delta);
      },
      onRunErrorEvent({ event }) {
        failed = event.message;
      },
    },
  );
} catch (error) {
  failed = String(error?.message ?? error);
}
process.stdout.write("\n");
if (failed !== null) {
  process.stderr.write(`error: ${failed}\n`);
  process.exit(1);
}
// The conversation as the agent keeps it, for the next run.
process.stderr.write(`${agent.messages.length} messages in the thread\n`);
