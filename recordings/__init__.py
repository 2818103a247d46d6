"""Every file format (NTU RGB+D, Kinect Studio .xef, our clips) and the clip recorder."""
