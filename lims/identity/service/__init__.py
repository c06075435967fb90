"""The rules of identity, one part a module: ``passwords`` (policy, hashing, resets), ``sign_in`` (logins, lockout,
sessions), ``users`` (accounts and roles), ``organizations`` and ``api_tokens``."""
