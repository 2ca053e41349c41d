"""Test infrastructure: moto's own EventBridge pattern matcher, answered over stdin/stdout.

moto 5.2.5 answers the TestEventPattern API with HTTP 200 and an empty body (its handler is a stub), so
harness/cloud/events.ts cannot get a match result through the SDK. This process runs the matcher moto itself
uses to route PutEvents to its rules' targets (moto.events.models.EventPattern: load() validates, matches_event()
matches) and nothing else. One JSON object per line in, one per line out:

  in:  {"id": 1, "pattern": "<the rule's EventPattern string>", "event": {<the event envelope>}}
  out: {"id": 1, "result": true}   or   {"id": 1, "error": "InvalidEventPatternException: ..."}

Source: moto 5.2.5 moto/events/models.py (EventPattern, EventPatternParser).
"""

import json
import sys

from moto.events.models import EventPattern


def answer(line: str) -> dict:
    request = json.loads(line)
    request_id = request.get("id")
    try:
        pattern = EventPattern.load(request["pattern"])
        return {"id": request_id, "result": bool(pattern.matches_event(request["event"]))}
    except Exception as error:  # the caller reports it with the rule's name
        return {"id": request_id, "error": f"{type(error).__name__}: {error}"}


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = answer(line)
        except Exception as error:  # a line that is not JSON
            reply = {"id": None, "error": f"{type(error).__name__}: {error}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
