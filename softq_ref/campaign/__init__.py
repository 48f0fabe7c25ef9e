"""Experiment campaigns: declarative TOML files of runs, trained in resumable segments, with committed results.

* :mod:`softq_ref.campaign.plan` -- reading and checking a campaign file.
* :mod:`softq_ref.campaign.runner` -- running what is missing, status, the result files.

``softq-ref campaign run FILE [--jobs N]`` and ``softq-ref campaign status FILE`` are the
command-line front; see ``docs/experiments.md`` for the campaigns of the paper's Sec. 5.
"""

from softq_ref.campaign.plan import Campaign, CampaignError, Group, Run, load

__all__ = ["Campaign", "CampaignError", "Group", "Run", "load"]
