"""The component's entry point: the `connector` export of the `channel` world.

componentize-py builds this module (`componentize app`) into a WebAssembly
component. It stays thin: `omni_line.contract` converts between the WIT types
and the plain data of the logic, and catches every exception so none traps.
"""

from typing import Optional

from wit_world import exports
from wit_world.imports import types

from omni_line import contract, warmup

# componentize-py snapshots the interpreter after importing this module; run
# every path once so the standard library's lazy imports are in the snapshot.
warmup.warm_up()


class Connector(exports.Connector):
    def manifest(self) -> types.PluginManifest:
        return contract.manifest()

    def handle_webhook(self, request: types.HttpRequest) -> types.WebhookOutcome:
        return contract.handle_webhook(request)

    def send(self, message: types.OutboundMessage, recipient: types.Identity) -> types.SendReceipt:
        return contract.send(message, recipient)

    def poll(self, cursor: Optional[str]) -> types.PollBatch:
        return contract.poll(cursor)
