"""infimed_lib.report"""
