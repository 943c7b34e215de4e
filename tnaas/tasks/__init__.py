"""What users do with a fitted model: generate, evaluate, compare, the quiz."""
