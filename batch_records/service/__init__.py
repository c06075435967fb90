"""The rules of GMP batch records, a module for each part: ``masters`` (master records and their lifecycle),
``batches`` (making and finding executed batches), ``execution`` (the work on their steps), ``deviations`` and
``release`` (release tests, review by exception, QA's disposition). Import the module you need."""
