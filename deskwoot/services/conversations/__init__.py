"""The queue: conversations and their workflow, messages, drafts, labels, search, the reads
agents and pages make, and customer messages arriving on an inbox."""
