"""infimed_lib.eval"""
