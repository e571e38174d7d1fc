"""What an administrator (`image2ad users create --admin`) can do over the API."""
