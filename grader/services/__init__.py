"""Every write with an effect. Views, admin actions, commands and tasks call these and nothing else."""
