"""Next best action: procedures as checklists, the facts a conversation established, the evidence rules."""
