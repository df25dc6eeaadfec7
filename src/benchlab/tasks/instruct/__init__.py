"""Instruction following: IFEval's verifiers (by family, in `verifiers/`), the text measurements
they share (`text`), strict and loose judging (`evaluate`) and the task kind (`task`)."""
