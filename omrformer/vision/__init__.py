"""Vision front end without learned parameters: image loading, staff detection, patch coordinates."""
