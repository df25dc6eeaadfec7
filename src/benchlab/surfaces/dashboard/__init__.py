"""The web dashboard (`benchlab dashboard`): live runs, drill-down, compare, leaderboard, control."""
