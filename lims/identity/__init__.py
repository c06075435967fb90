"""Identity and access: organizations, users, roles, logins and API tokens."""
