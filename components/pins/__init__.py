"""Keep the pins table's digests honest: ask registries what each pinned tag resolves to now."""
