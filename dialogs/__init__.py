"""Multi-step conversations (aiogram FSM): joining, composing a notice, asking, answering."""
