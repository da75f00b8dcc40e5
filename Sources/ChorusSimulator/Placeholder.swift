// Simulator: see SPEC in issue 2.
