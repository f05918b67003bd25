"""genosd's own SNMP engine: a BER codec, USM security and an asyncio client."""
