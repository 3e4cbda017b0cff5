"""The event catalogue: frozen pydantic models, the one source of truth.

The Avro schemas in ``schemas/`` are generated from these models
(``dledger schemas export``) and a test holds the two equal field for field. Every
event is immutable and past-tense; a correction is a new event (invariant 1).

Three families, by topic:
- registry events describe entities (control planes, workflows, resources, policies,
  brokers, issuer keys); they are keyed by entity and compacted;
- lifecycle events follow one credential's chain of custody; they are keyed by
  ``chain_id`` so a whole delegation tree stays ordered in one partition;
- derived events are written by processors (findings, checkpoints).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from enum import Enum
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from .tokens import _SHORTEST_SECRET, FINGERPRINT_RE, find_secret


def new_event_id() -> str:
    return uuid.uuid4().hex


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Record(BaseModel):
    """Base of every model: frozen, strict about unknown fields; bytes are base64 in JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64")


# ---------------------------------------------------------------- enumerations


class CredentialKind(str, Enum):
    ACT = "ACT"  # act on a resource
    MINT = "MINT"  # create a new downstream identity
    EXCHANGE = "EXCHANGE"  # exchange a token into another trust domain


class ApprovalKind(str, Enum):
    ACT = "ACT"
    MINT = "MINT"


class ApproverType(str, Enum):
    HUMAN = "HUMAN"
    POLICY = "POLICY"


class Decision(str, Enum):
    ALLOW = "ALLOW"
    DENY = "DENY"


class UseOutcome(str, Enum):
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"


class TaskOutcome(str, Enum):
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class RevocationReason(str, Enum):
    EXPIRED = "EXPIRED"
    TASK_COMPLETED = "TASK_COMPLETED"
    PARENT_REVOKED = "PARENT_REVOKED"
    MANUAL = "MANUAL"
    COMPROMISED = "COMPROMISED"


class Severity(str, Enum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class DataSensitivity(str, Enum):
    PUBLIC = "PUBLIC"
    INTERNAL = "INTERNAL"
    CONFIDENTIAL = "CONFIDENTIAL"
    RESTRICTED = "RESTRICTED"


# ---------------------------------------------------------------- nested records


class Producer(Record):
    """Who wrote the event: an issuer and the id of the key it signs with."""

    issuer_id: str
    key_id: str


class Signature(Record):
    """Producer signature: Ed25519 over the RFC 9162 Merkle root of the batch the
    event was published in. A batch of one has ``tree_size=1`` and an empty path.
    Signing one root per batch is what lets a publisher keep up with the log."""

    sig: bytes
    tree_size: int = 1
    leaf_index: int = 0
    audit_path: list[bytes] = Field(default_factory=list)


class RequestContext(Record):
    """What the agent asked to do, evaluated by policy before issuance."""

    tool: str | None = None
    target: str | None = None
    data_sensitivity: DataSensitivity = DataSensitivity.INTERNAL


class PartyRef(Record):
    """An accountable party and the role it is accountable in."""

    role: str  # control_plane_owner, workflow_owner, resource_owner, broker_operator, ...
    party_id: str


class StandardRef(Record):
    """A reference into a standard (OWASP NHI, OWASP ASI, NIST AI RMF, CSA MAESTRO)."""

    framework: str
    ref: str
    title: str | None = None


# ---------------------------------------------------------------- envelope


class Event(Record):
    """The envelope every event shares.

    ``signature`` is left empty in the canonical bytes that the producer signs; the
    publisher fills ``producer`` and ``signature`` when an issuer did not.
    """

    family: ClassVar[str] = "lifecycle"

    event_id: str = Field(default_factory=new_event_id, min_length=1)
    type: str
    schema_version: int = 1
    occurred_at: datetime = Field(default_factory=utc_now)
    producer: Producer | None = None
    chain_id: str | None = None
    task_id: str | None = None
    workflow_id: str | None = None
    causation_id: str | None = None
    signature: Signature | None = None

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("occurred_at must carry a time zone")
        return value.astimezone(timezone.utc)

    @model_validator(mode="after")
    def _no_raw_secrets(self) -> "Event":
        _check_strings(self, "")
        return self

    @property
    def key(self) -> str:
        """The log key: keeps related events ordered in one partition."""
        return self.chain_id or self.event_id


def _check_strings(model: BaseModel, prefix: str) -> None:
    """Refuse raw secrets in every text field; this runs on every event (and on every
    decoded one), so it walks the model's ``__dict__``, skips text too short to hold
    any secret, remembers text already found clean, and builds a field path only
    when it has to complain."""
    fingerprint_fields = _FINGERPRINT_FIELDS.get(type(model))
    if fingerprint_fields is None:
        fingerprint_fields = _FINGERPRINT_FIELDS[type(model)] = frozenset(
            n for n in type(model).model_fields if n.endswith("token_fingerprint")
        )
    for name, value in model.__dict__.items():
        if type(value) is str:
            if name in fingerprint_fields:
                _check_text(value, prefix + name)
            elif len(value) >= _SHORTEST_SECRET and value not in _CLEAN:
                _check_text(value, prefix + name)
        elif type(value) is list:
            for i, item in enumerate(value):
                if type(item) is str:
                    if len(item) >= _SHORTEST_SECRET and item not in _CLEAN:
                        _check_text(item, f"{prefix}{name}[{i}]")
                elif isinstance(item, BaseModel):
                    _check_strings(item, f"{prefix}{name}[{i}].")
        elif isinstance(value, BaseModel):
            _check_strings(value, prefix + name + ".")


_FINGERPRINT_FIELDS: dict[type[BaseModel], frozenset[str]] = {}

# Text found clean before. ``find_secret`` is a pure function of the text, and events
# repeat most of theirs (chain, workflow, producer and resource ids), so a verdict is
# remembered; bounded in count and length so hostile input cannot grow it unbounded.
_CLEAN: set[str] = set()
_CLEAN_MAX_ENTRIES = 1 << 16
_CLEAN_MAX_LENGTH = 256


def _check_text(text: str, path: str) -> None:
    if path.endswith("token_fingerprint"):
        if not FINGERPRINT_RE.match(text):
            raise ValueError(f"{path} must be fingerprint(token) ('hmac-sha256:' + 64 hex), not a token value")
        return
    found = find_secret(text)
    if found:
        raise ValueError(f"{path} appears to hold a raw secret ({found}); publish fingerprint(token) instead")
    if len(text) <= _CLEAN_MAX_LENGTH:
        if len(_CLEAN) >= _CLEAN_MAX_ENTRIES:
            _CLEAN.clear()
        _CLEAN.add(text)


class LifecycleEvent(Event):
    """A step in a credential's chain of custody, keyed by its delegation tree."""

    @model_validator(mode="after")
    def _has_chain(self) -> "LifecycleEvent":
        if not self.chain_id:
            raise ValueError(f"{self.type} needs chain_id (the root of its delegation tree)")
        return self


class RegistryEvent(Event):
    """A description of an entity; the latest event per entity key wins (compaction)."""

    family: ClassVar[str] = "registry"
    entity_kind: ClassVar[str]

    @property
    def entity_id(self) -> str:
        raise NotImplementedError

    @property
    def key(self) -> str:
        return f"{self.entity_kind}:{self.entity_id}"


# ---------------------------------------------------------------- registry


class ControlPlaneRegistered(RegistryEvent):
    entity_kind: ClassVar[str] = "control_plane"
    type: Literal["ControlPlaneRegistered"] = "ControlPlaneRegistered"
    control_plane_id: str
    name: str
    owner: str

    @property
    def entity_id(self) -> str:
        return self.control_plane_id


class WorkflowRegistered(RegistryEvent):
    """A use case. Its id is the envelope's ``workflow_id``."""

    entity_kind: ClassVar[str] = "workflow"
    type: Literal["WorkflowRegistered"] = "WorkflowRegistered"
    control_plane_id: str
    owner: str
    description: str = ""
    may_mint: bool = False
    max_ttl_seconds: int = Field(default=3600, gt=0)
    max_delegation_depth: int = Field(default=1, ge=0)

    @model_validator(mode="after")
    def _has_id(self) -> "WorkflowRegistered":
        if not self.workflow_id:
            raise ValueError("WorkflowRegistered needs workflow_id")
        return self

    @property
    def entity_id(self) -> str:
        return self.workflow_id or ""


class ResourceRegistered(RegistryEvent):
    entity_kind: ClassVar[str] = "resource"
    type: Literal["ResourceRegistered"] = "ResourceRegistered"
    resource_id: str
    owner: str
    system: str
    trust_domain: str
    control_plane_id: str | None = None

    @property
    def entity_id(self) -> str:
        return self.resource_id


class PolicyPublished(RegistryEvent):
    entity_kind: ClassVar[str] = "policy"
    type: Literal["PolicyPublished"] = "PolicyPublished"
    policy_id: str
    version: str
    digest: str
    author: str
    control_plane_id: str | None = None

    @property
    def entity_id(self) -> str:
        return f"{self.policy_id}@{self.version}"


class BrokerRegistered(RegistryEvent):
    """A central service that mints for many agents: accountability shifts to its
    operator and product owner, it does not vanish."""

    entity_kind: ClassVar[str] = "broker"
    type: Literal["BrokerRegistered"] = "BrokerRegistered"
    broker_id: str
    operator: str
    product_owner: str
    control_plane_id: str | None = None

    @property
    def entity_id(self) -> str:
        return self.broker_id


class IssuerKeyRegistered(RegistryEvent):
    """Introduces the Ed25519 public key an issuer signs its events with."""

    entity_kind: ClassVar[str] = "issuer_key"
    type: Literal["IssuerKeyRegistered"] = "IssuerKeyRegistered"
    issuer_id: str
    key_id: str
    public_key: bytes = Field(min_length=32, max_length=32)
    algorithm: str = "ed25519"
    control_plane_id: str | None = None
    system: str | None = None
    trust_domain: str | None = None

    @property
    def entity_id(self) -> str:
        return f"{self.issuer_id}/{self.key_id}"


# ---------------------------------------------------------------- lifecycle


class TaskStarted(LifecycleEvent):
    type: Literal["TaskStarted"] = "TaskStarted"
    principal: str  # the human or service on whose behalf the agent acts
    purpose: str
    agent_id: str
    control_plane_id: str | None = None


class CredentialRequested(LifecycleEvent):
    type: Literal["CredentialRequested"] = "CredentialRequested"
    request_id: str
    agent_id: str
    workload_identity: str  # e.g. a SPIFFE id
    attestation: str | None = None  # digest or reference of the workload attestation
    kind: CredentialKind = CredentialKind.ACT
    parent_credential_id: str | None = None
    scopes: list[str] = Field(default_factory=list)
    resources: list[str] = Field(default_factory=list)
    actions: list[str] = Field(default_factory=list)
    ttl_seconds: int | None = Field(default=None, gt=0)
    context: RequestContext = Field(default_factory=RequestContext)
    broker_id: str | None = None
    target_trust_domain: str | None = None


class PolicyEvaluated(LifecycleEvent):
    type: Literal["PolicyEvaluated"] = "PolicyEvaluated"
    request_id: str
    decision: Decision
    policy_id: str
    policy_version: str
    policy_digest: str
    determining_policies: list[str] = Field(default_factory=list)
    obligations: list[str] = Field(default_factory=list)


class ApprovalRecorded(LifecycleEvent):
    """"Can the agent act?" and "can it mint?" are separate approvals (invariant 6)."""

    type: Literal["ApprovalRecorded"] = "ApprovalRecorded"
    request_id: str
    approval_kind: ApprovalKind
    approver_type: ApproverType
    approver: str
    reason: str = ""


class CredentialIssued(LifecycleEvent):
    type: Literal["CredentialIssued"] = "CredentialIssued"
    credential_id: str
    request_id: str | None = None
    token_fingerprint: str
    subject: str  # the identity the credential is for; for MINT, the new identity
    kind: CredentialKind = CredentialKind.ACT
    parent_credential_id: str | None = None
    depth: int = Field(default=0, ge=0)
    scopes: list[str] = Field(default_factory=list)
    resources: list[str] = Field(default_factory=list)
    actions: list[str] = Field(default_factory=list)
    not_before: datetime | None = None
    expires_at: datetime | None = None
    actor_chain: list[str] = Field(default_factory=list)
    trust_domain: str | None = None
    broker_id: str | None = None


class CredentialUsed(LifecycleEvent):
    type: Literal["CredentialUsed"] = "CredentialUsed"
    credential_id: str
    token_fingerprint: str
    resource_id: str
    action: str
    outcome: UseOutcome
    system: str
    trust_domain: str | None = None


class TaskCompleted(LifecycleEvent):
    type: Literal["TaskCompleted"] = "TaskCompleted"
    outcome: TaskOutcome = TaskOutcome.SUCCEEDED


class CredentialRevoked(LifecycleEvent):
    """The cause event is the envelope's ``causation_id``."""

    type: Literal["CredentialRevoked"] = "CredentialRevoked"
    credential_id: str
    reason: RevocationReason
    revoked_by: str | None = None


# ---------------------------------------------------------------- derived


class GovernanceFinding(LifecycleEvent):
    family: ClassVar[str] = "derived"
    type: Literal["GovernanceFinding"] = "GovernanceFinding"
    kind: str
    severity: Severity
    summary: str
    evidence_event_ids: list[str] = Field(default_factory=list)
    accountable: list[PartyRef] = Field(default_factory=list)
    standards: list[StandardRef] = Field(default_factory=list)
    credential_id: str | None = None
    resource_id: str | None = None
    waited_seconds: float | None = None  # grace period waited for a late event, if any


class Checkpoint(Event):
    """A signed Merkle tree head over one partition of the lifecycle log (RFC 9162)."""

    family: ClassVar[str] = "derived"
    type: Literal["Checkpoint"] = "Checkpoint"
    topic: str
    partition: int = Field(ge=0)
    tree_size: int = Field(ge=0)
    root_hash: bytes = Field(min_length=32, max_length=32)
    previous_tree_size: int = Field(default=0, ge=0)
    previous_root_hash: bytes | None = None
    signer_key_id: str
    head_signature: bytes = Field(min_length=64, max_length=64)
    # The leaf hashes of offsets [previous_tree_size, tree_size): the seal manifest.
    # It lets a verifier name each tampered offset and how (see ledger/provable).
    leaf_hashes: list[bytes] = Field(default_factory=list)


EVENT_TYPES: tuple[type[Event], ...] = (
    ControlPlaneRegistered,
    WorkflowRegistered,
    ResourceRegistered,
    PolicyPublished,
    BrokerRegistered,
    IssuerKeyRegistered,
    TaskStarted,
    CredentialRequested,
    PolicyEvaluated,
    ApprovalRecorded,
    CredentialIssued,
    CredentialUsed,
    TaskCompleted,
    CredentialRevoked,
    GovernanceFinding,
    Checkpoint,
)
EVENTS_BY_TYPE: dict[str, type[Event]] = {cls.__name__: cls for cls in EVENT_TYPES}

AnyEvent = Annotated[Union[tuple(EVENT_TYPES)], Field(discriminator="type")]  # type: ignore[valid-type]
_ANY = TypeAdapter(AnyEvent)


def event_from_json(text: str | bytes) -> Event:
    """Parse the JSON form of any event (the form ``dledger publish`` reads)."""
    return _ANY.validate_json(text)


def event_from_dict(data: dict[str, Any]) -> Event:
    return _ANY.validate_python(data)
