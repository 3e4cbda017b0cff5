"""The ledger's error tree. Every error raised by this project derives from LedgerError.

    LedgerError
    ├── DomainError                 the input is wrong; retrying will not help
    │   ├── InvalidEvent            an event breaks the model (bad field, raw token, ...)
    │   ├── UnknownSchema           bytes framed with a schema this reader does not know
    │   ├── MalformedRecord         bytes that do not decode as a framed Avro event
    │   ├── SignatureInvalid        a producer signature does not verify
    │   ├── UnknownIssuerKey        a signature by a key nobody registered
    │   └── LogTampered             the log no longer matches its signed checkpoints
    └── InfrastructureError         the outside world failed; retrying may help
        ├── LogUnavailable          the log could not be reached or did not confirm durability
        └── SchemaRegistryError     the schema registry refused or could not be reached

Errors from dependencies (aiokafka, sqlite3, httpx) are translated at the boundary with
``raise ... from``; the message names the operation that failed.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Root of every error this project raises."""


class DomainError(LedgerError):
    """The input is wrong; retrying the same input will fail the same way."""


class InvalidEvent(DomainError):
    """An event does not satisfy its model."""


class UnknownSchema(DomainError):
    """Bytes name a writer schema (fingerprint or registry id) this reader does not know."""


class MalformedRecord(DomainError):
    """Bytes that are not a framed Avro event."""


class SignatureInvalid(DomainError):
    """A producer signature does not verify over the event's canonical bytes."""


class UnknownIssuerKey(DomainError):
    """A signature made with a key that no IssuerKeyRegistered event introduced."""


class LogTampered(DomainError):
    """The log disagrees with a signed checkpoint: sealing more would bless tampering."""


class InfrastructureError(LedgerError):
    """A dependency failed; the same call may succeed later."""


class LogUnavailable(InfrastructureError):
    """The log could not be reached or did not confirm that an append is durable."""


class SchemaRegistryError(InfrastructureError):
    """The Confluent-compatible schema registry refused a request or was unreachable."""
