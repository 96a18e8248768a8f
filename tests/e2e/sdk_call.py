"""One call of the official cloudflare SDK, for the end-to-end specs: `sdk_call.py METHOD JSON_ARGS`.

METHOD is a dotted path under `client.realtime_kit` (e.g. `active_session.kick_all_participants`); the first
positional argument is `meeting_id` when JSON_ARGS has one. Prints the SDK's typed response model as JSON.
"""

import json
import os
import sys

from cloudflare import Cloudflare

client = Cloudflare(api_token=os.environ["API_TOKEN"], base_url=os.environ["BASE_URL"], max_retries=0)
target = client.realtime_kit
for part in sys.argv[1].split("."):
    target = getattr(target, part)
kwargs = json.loads(sys.argv[2])
meeting_id = kwargs.pop("meeting_id")
result = target(meeting_id, **kwargs)
print(result.model_dump_json())
