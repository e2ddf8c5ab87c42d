"""What every package keeps in Redis, and how: the name of each key (``keys``), a lease held by one holder at a
time (``lease``), and an entry appended once however often it is tried (``once``).

It imports no other package of the project, so channels, the desk, the record and the gateway can all use it.
"""
