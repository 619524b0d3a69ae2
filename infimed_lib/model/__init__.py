"""infimed_lib.model"""
