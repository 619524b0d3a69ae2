"""infimed_lib.data"""
