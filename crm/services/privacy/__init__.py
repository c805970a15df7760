"""Privacy by design (PIPL; issue 23): a staff member's separate consent to precise location at
check-in (`consent`), and what personal information the install keeps, why, for how long and who
sees it (`processing`), which both the privacy notice and the admin's record of processing show.
"""
