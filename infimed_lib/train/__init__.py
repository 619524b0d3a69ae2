"""infimed_lib.train"""
