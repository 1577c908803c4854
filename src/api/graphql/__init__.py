"""The GraphQL API: the contract's types, queries and mutations."""
