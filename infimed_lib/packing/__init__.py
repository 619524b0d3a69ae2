"""infimed_lib.packing"""
