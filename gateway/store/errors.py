"""The store's exceptions: each names the file, revision or row that caused it."""

from __future__ import annotations


class StoreError(RuntimeError):
    """Base of every error the store raises on purpose."""


class SchemaTooNew(StoreError):
    """The database was migrated by a newer menwei than this one; refusing to touch it."""


class StoreCorrupt(StoreError):
    """The database file is not a readable SQLite database."""


class StoreReadOnly(StoreError):
    """The database cannot be written (file or folder permissions, read-only mount, mode=ro)."""


class BackupFailed(StoreError):
    """The backup taken before a migration failed, so the migration did not run."""


class KeyUnavailable(StoreError):
    """The template-encryption key is not configured, missing or malformed."""


class TemplateIntegrityError(StoreError):
    """A ciphertext failed authentication: wrong key, tampered, or moved to another row."""


class CredentialPolicyError(StoreError):
    """A credential rule was violated (no consent, face as the only credential...)."""


class NotFound(StoreError):
    """A referenced row does not exist."""
