"""infimed_lib.curation"""
