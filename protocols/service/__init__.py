"""The rules of protocols, one part a module: ``protocols`` (phases, visibility, creating, editing and importing),
``design`` (arms, visits, sample requirements, amendments and diffs) and ``subjects`` (enrolment and calendars)."""
