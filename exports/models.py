"""Tables owned by exports: what it issues (records, credentials) and the keys it signs with."""

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

import mentoring.access.models  # noqa: F401  (tables these point at)
import mentoring.oversight.models  # noqa: F401  (tables these point at)
import mentoring.people.models  # noqa: F401  (tables these point at)
import mentoring.progress.models  # noqa: F401  (tables these point at)
import mentoring.trail.models  # noqa: F401  (tables these point at)
from mentoring.clock import utcnow

CURRENT_KEY = text("retired_at IS NULL")


class IssuerKey(SQLModel, table=True):
    """One of an organization's signing key pairs; the private key is stored encrypted under the app secret.

    An organization holds one current key per algorithm: ES256 (P-256) signs VC-JWTs and checkpoints,
    EdDSA (Ed25519) signs Data Integrity proofs. A rotated-out key is retired but stays published so that
    what it signed keeps verifying; a compromised key is revoked from an instant, after which nothing it
    signed is trusted."""

    __table_args__ = (
        # One current key per organization and algorithm, enforced by the database so that two requests
        # making the first key at once cannot both succeed.
        Index("uq_issuerkey_current", "organization_id", "algorithm", unique=True,
              sqlite_where=CURRENT_KEY, postgresql_where=CURRENT_KEY),
    )

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id", index=True)
    kid: str = Field(max_length=64, unique=True)  # the public key's JWK thumbprint (RFC 7638)
    algorithm: str = Field(default="ES256", max_length=10)  # ES256 | EdDSA
    public_jwk: str = Field(sa_column=Column(Text, nullable=False))
    private_pem_encrypted: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    retired_at: datetime | None = None  # rotated out: signs nothing new, still published
    revoked_from: datetime | None = None  # compromised: what claims to be signed at or after this is untrusted
    revoked_reason: str = Field(default="", max_length=300)


class CompletionRecord(SQLModel, table=True):
    """One issued snapshot of an assignment's record, found again by its verification code."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=24, unique=True)
    # record: the completion record; certificate: an apprenticeship's completion certificate (the record's
    # content plus hours and RTI), verified by the same code machinery.
    kind: str = Field(default="record", max_length=12, sa_column_kwargs={"server_default": "record"})
    assignment_id: int = Field(foreign_key="assignment.id", index=True)
    mentee_id: int = Field(foreign_key="person.id", index=True)
    shop_id: int = Field(foreign_key="organization.id", index=True)
    content: str = Field(sa_column=Column(Text, nullable=False))  # canonical JSON of what was issued
    content_hash: str = Field(max_length=64, index=True)
    issued_at: datetime = Field(default_factory=utcnow)
    issued_by_id: int | None = Field(default=None, foreign_key="person.id")
    superseded_at: datetime | None = None  # a newer record of the same assignment was issued
    revoked_at: datetime | None = None
    revoked_by_id: int | None = Field(default=None, foreign_key="person.id")
    revoked_reason: str = Field(default="", max_length=300)


class RecordFile(SQLModel, table=True):
    """The SHA-256 of every file handed out for a record, so that the file itself can be verified."""

    id: int | None = Field(default=None, primary_key=True)
    record_id: int = Field(foreign_key="completionrecord.id", index=True)
    kind: str = Field(max_length=20)  # pdf-letter | pdf-a4 | csv | json
    sha256: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)


class IssuedCredential(SQLModel, table=True):
    """An Open Badges 3.0 AchievementCredential (or CLR transcript), signed as a VC-JWT and with a Data Integrity
    proof."""

    __table_args__ = (UniqueConstraint("uuid"),
                      UniqueConstraint("issuer_id", "status_index", name="uq_issuedcredential_status_index"))

    id: int | None = Field(default=None, primary_key=True)
    uuid: str = Field(max_length=36)
    assignment_id: int = Field(foreign_key="assignment.id", index=True)
    mentee_id: int = Field(foreign_key="person.id", index=True)
    issuer_id: int = Field(foreign_key="organization.id", index=True)
    kind: str = Field(max_length=12)  # area | level | transcript
    achievement_key: str = Field(max_length=80)  # e.g. "area:V" or "level:MLR"
    name: str = Field(max_length=200)
    token: str = Field(sa_column=Column(Text, nullable=False))  # the compact JWS
    # The same credential with an embedded Data Integrity proof (eddsa-rdfc-2022), kept as issued so that what
    # a wallet holds never changes; empty for credentials issued before this form existed.
    di_json: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    issued_at: datetime = Field(default_factory=utcnow)
    issued_by_id: int | None = Field(default=None, foreign_key="person.id")
    revoked_at: datetime | None = None
    revoked_by_id: int | None = Field(default=None, foreign_key="person.id")
    revoked_reason: str = Field(default="", max_length=300)
    # Its bit in the issuer's Bitstring Status List; none for credentials issued before that list existed.
    status_index: int | None = None


class ExportJob(SQLModel, table=True):
    """A bulk export running in the background; its progress lives here so any app process can show it."""

    id: int | None = Field(default=None, primary_key=True)
    shop_id: int = Field(foreign_key="organization.id", index=True)
    requested_by_id: int | None = Field(default=None, foreign_key="person.id")
    status: str = Field(default="queued", max_length=12)  # queued | running | done | failed
    total: int = 0
    done: int = 0
    file_name: str = Field(default="", max_length=80)  # chosen by the server
    error: str = Field(default="", max_length=300)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class AuditCheckpoint(SQLModel, table=True):
    """A signed statement of an organization's hash chains and audit log at a moment (mentoring/trail/checkpoints.py).

    Rows are only ever added; each names the hash of the one before, and the published copies let anyone
    keep them outside the database."""

    __table_args__ = (UniqueConstraint("organization_id", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    organization_id: int = Field(foreign_key="organization.id")
    number: int  # 1, 2, … within the organization
    at: datetime = Field(default_factory=utcnow)
    token: str = Field(sa_column=Column(Text, nullable=False))  # compact JWS (ES256); its payload is the statement
