"""Growth through the stages: the metric catalogue and stage checklists, entering a stage,
tasks, figures, eligibility and promotions.
"""
