"""Request and response bodies of the identity endpoints."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from api.schemas import CODE_PATTERN, UtcDatetime
from storage.users import ApiKeyRow, UserRow
from ticketing.access import Role

__all__ = ["TokenPublic", "CallerPublic", "PasswordChange", "UserCreate", "UserPublic",
           "UsersPublic", "ApiKeyCreate", "ApiKeyPublic", "ApiKeyCreated", "ApiKeysPublic"]



class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TokenPublic(_Body):
    """OAuth 2.0 token response (RFC 6749 section 5.1)."""

    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds the token stays valid")
    expires_at: UtcDatetime
    username: str
    role: str


class CallerPublic(_Body):
    name: str
    kind: str
    role: str
    customer: str | None
    engineer: str | None
    expires_at: UtcDatetime | None
    read: list[str]
    events: list[str]
    tickets: str
    # Alert-wall acts (access policy ``alerts``): the console shows the Acknowledge button.
    alerts: list[str] = []


class PasswordChange(_Body):
    current_password: SecretStr
    new_password: SecretStr


class UserCreate(_Body):
    username: str
    role: Role
    password: SecretStr
    display_name: str = ""
    customer: str | None = Field(default=None, pattern=CODE_PATTERN)
    engineer: str | None = None


class UserPublic(_Body):
    username: str
    display_name: str
    role: str
    customer: str | None
    engineer: str | None
    created_at: UtcDatetime
    disabled_at: UtcDatetime | None

    @classmethod
    def of(cls, row: UserRow) -> UserPublic:
        return cls(username=row.username, display_name=row.display_name, role=row.role,
                   customer=row.customer, engineer=row.engineer, created_at=row.created_at,
                   disabled_at=row.disabled_at)


class UsersPublic(_Body):
    items: list[UserPublic]
    count: int


class ApiKeyCreate(_Body):
    name: str = Field(pattern=CODE_PATTERN)
    role: Role
    customer: str | None = Field(default=None, pattern=CODE_PATTERN)


class ApiKeyPublic(_Body):
    id: int
    name: str
    role: str
    customer: str | None
    created_by: str | None
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None

    @classmethod
    def of(cls, row: ApiKeyRow) -> ApiKeyPublic:
        return cls(id=row.id, name=row.name, role=row.role, customer=row.customer,
                   created_by=row.created_by, created_at=row.created_at,
                   revoked_at=row.revoked_at)


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="The key itself: shown this once, stored only as a digest")


class ApiKeysPublic(_Body):
    items: list[ApiKeyPublic]
    count: int
