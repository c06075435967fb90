"""The signed-in user's start page: their real work queues."""
