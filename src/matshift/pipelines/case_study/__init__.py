"""Case-study pipeline: a domain module of ``matshift.casestudies`` run through every stage."""
