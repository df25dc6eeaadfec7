"""What the model is asked: the two prompt styles and the default token budgets and temperature."""

from __future__ import annotations

# Token budgets when the user gives none. A function is a few hundred tokens; reasoning models get
# far more so that the budget is not what decides the score.
DEFAULT_MAX_TOKENS = {False: 2048, None: 8192, True: 16384}

# For k > 1 completions the samples must differ: the user's temperature when they set one, else
# 0.8 (Chen et al. 2021 drew their pass@10/pass@100 samples at 0.8), and one seed per completion.
DEFAULT_SAMPLING_TEMPERATURE = 0.8

COMPLETION_PROMPT = """Complete the following Python function.

```python
{prompt}
```

Reply with the complete function — its signature, body and any imports or helpers it needs — in a \
single ```python code block."""

INSTRUCTION_PROMPT = """{text}

Your code should pass tests like this one:

```python
{example}
```

Reply with the complete solution — the function `{entry_point}` and any imports or helpers it \
needs — in a single ```python code block."""
