"""The running gateway: camera, vision, access policy, door and store wired with a lifecycle."""
