"""Where data comes from: each source turns one place (a run directory, a live
scheduler, a recording) into the snapshot types of ``scalable_tui.model.run``."""
