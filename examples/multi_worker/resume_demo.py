"""Drop a RAIS stream on one server and resume it on another with ``Last-Event-ID``.

    python examples/multi_worker/resume_demo.py http://127.0.0.1:8001 http://127.0.0.1:8002

Prints the tokens received before the drop, then those received after the resume,
and checks that together they are the whole answer: none lost, none repeated.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator

import httpx

CHAT = {"messages": [{"role": "user", "content": "Tell me about resumable streams."}]}


def events(response: httpx.Response) -> Iterator[tuple[str | None, dict[str, object]]]:
    """(id, event) pairs, read the way the browser clients do: split on blank lines."""
    buffer = ""
    for chunk in response.iter_text():
        buffer += chunk
        *blocks, buffer = buffer.split("\n\n")
        for block in blocks:
            event_id = None
            for line in block.split("\n"):
                if line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("data: "):
                    yield event_id, json.loads(line[6:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("first", help="base URL of the server that starts the stream")
    parser.add_argument("second", help="base URL of the server that resumes it")
    parser.add_argument("--drop-after", type=int, default=5, help="events to read before dropping")
    parser.add_argument("--path", default="/api/chat")
    args = parser.parse_args()

    before: list[str] = []
    last_id = None
    with httpx.Client(timeout=30) as client:
        with client.stream("POST", args.first + args.path, json=CHAT) as response:
            response.raise_for_status()
            for event_id, event in events(response):
                before.append(str(event.get("text", "")))
                last_id = event_id
                if len(before) == args.drop_after or event["type"] != "text":
                    break  # leaving the block closes the connection: the client "drops"
        print(f"[{args.first}] before the drop: {''.join(before)!r}")
        print(f"dropped after id {last_id}; resuming on {args.second}")
        if last_id is None:
            print("the server sent no ids: is RAIS_RESUME_URL set?", file=sys.stderr)
            return 1

        after: list[str] = []
        finished = None
        headers = {"Last-Event-ID": last_id}
        with client.stream("POST", args.second + args.path, json=CHAT, headers=headers) as response:
            if response.status_code == 204:
                print("204: the stream cannot be resumed (expired, unknown or complete)")
                return 1
            response.raise_for_status()
            for _, event in events(response):
                if event["type"] == "text":
                    after.append(str(event["text"]))
                else:
                    finished = event
        print(f"[{args.second}] after the resume: {''.join(after)!r}")
        print(f"ended with {finished}")
    return 0 if finished == {"type": "done"} else 1


if __name__ == "__main__":
    sys.exit(main())
