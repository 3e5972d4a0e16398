"""Stand-ins for the outside world's message gateways: an SMTP server and an SMS gateway that deliver
nowhere and keep what they received in a mailbox (a JSON-lines file) shown on a web page.

Used by `extranet-bridge sandbox up` and the tests; the bridge reaches them exactly as real gateways.
"""

from sandbox.sinks.mailbox import Mailbox, Message

__all__ = ["Mailbox", "Message"]
