"""Quantities with units: the one pint registry, what technicians type, exact storage, limits, UCUM.

Each module holds one part; import the one you need:

- ``registry``: the one pint registry with the lab units, and unit text as typed and as shown
- ``errors``: text that is not a quantity, and quantities of different kinds
- ``measurement``: an exact decimal value with its unit, and a range of two
- ``parsing``: reading the values, ranges and limits technicians type
- ``limits``: specifications, tolerances and errors
- ``kinds``: what kind of value a measurement is, and whether it is physically possible
- ``columns``: exact storage in the database
- ``fields``: marshmallow fields for forms and the API
- ``ucum``: mapping to and from UCUM codes
"""
