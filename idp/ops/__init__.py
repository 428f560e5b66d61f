"""Operations: health, readiness, metrics and the sweeper of expired state."""
