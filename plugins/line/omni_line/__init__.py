"""Omni's LINE connector: a LINE Official Account on the Messaging API.

LINE posts webhook events to `/hooks/{instance}/webhook`, signed with the
channel secret; agents' replies go out as push messages.

Where things live:
- `manifest`: who the plugin is, the secrets, hosts and config it declares.
- `config`: reading the instance config and secrets through the host.
- `signature`: the `x-line-signature` check (401 when missing or forged).
- `webhook`: routing, refusing bad requests, the list of events.
- `events`: which LINE webhook event becomes which Omni event.
- `send`: an outbound message as one push request, with a retry key.
- `split`: cutting long texts into LINE's 5,000-character text objects.
- `response`: LINE's answers to a push, retryable or permanent.
- `model`: the plain data the above work with.
- `warmup`: runs every path at build time, so lazy imports are in the snapshot.
- `contract`: conversion to and from the generated WIT bindings; the only
  module that imports them, so everything else runs in plain CPython.
"""
