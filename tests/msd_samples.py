"""Tiny files in the Million Song Dataset's formats (taste-profile triplets, unique_tracks.txt)."""

TRIPLETS = "u1\tS3\t2\nu1\tS1\t1\nu2\tS2\t5\nu1\tS3\t3\nu3\tS9\t4\nu1\tS1\t2\n"
# S1 has two tracks; TRA (the smaller id, listed second) gives its title. S4 has no listeners.
TRACKS = (
    "TRB<SEP>S1<SEP>Artist B<SEP>Title B\n"
    "TRA<SEP>S1<SEP>Artist A<SEP>Title A\n"
    "TRC<SEP>S2<SEP>Artist C<SEP>Title C\n"
    "TRD<SEP>S3<SEP>Artist D<SEP>Title D\n"
    "TRE<SEP>S4<SEP>Artist E<SEP>Title E\n"
)
