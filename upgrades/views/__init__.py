"""The upgrades app's pages: the chain from the Upgrade tab to Place order and the run's status
(chain), the rehearsal, the maintenance window, the run's report and Contact support."""
